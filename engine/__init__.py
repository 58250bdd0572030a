"""Running diagrams: cases, human tasks, routing, clocks, persistence and the audit record.

The engine knows nothing of Flask; the web app and the CLI call the same functions here.

Its sub-packages, each importing only those below it (the order the import-linter contract
"Engine sub-packages" in pyproject.toml enforces; the few upward imports it allows are listed
there, each with its reason):

    retention   records management: retention rules under culling decisions, holds, the culling
                job and its report (above service: culling seals and verifies with the audit)
    service     the operations the web app and the CLI call: cases, tasks, messages, transfer,
                the scheduler's rounds, measures, the yearly process review, the task views,
                sign-in, the organisation's import and export, the demo, the audit
                (checkpoints and verification) and backups
    routing     when a running task moves: delegation, absence, escalation steps as they fire,
                notifications (a case's deadline among them), accounts that end (who it moves to
                is `authority.routing`'s; when a step falls due is `clocks`')
    catalogue   process versions (deploy, approval, review dates) and who may start a case
    execution   the unit of work around SpiffWorkflow (runtime) and multi-instance steps
    clocks      timers, deadlines, the case clock, a task's clock (deadline policies, escalation
                ladders), SpiffWorkflow's view of now; what they need of the unit of work above
                is named in `clocks.work`
    records     the hash chain and the case history, incidents, run limits
    authority   the unit tree, people, roles, process ownership, the security log, people
                signing in through the municipality's OpenID Connect provider (`idp`), the
                ordinance items in force (`ordinance`), and the one place that decides who a
                step goes to (`routing`: lane, candidate groups, assignee expressions, aliases,
                the unit tree, absence, escalation, hand-over)
    core        the Engine object: settings, database, clock and caches, created once
    store       connections, transactions, writer lock, models, migrations, the SQLite fast path
    base        settings, errors, the clock, and the rules for case data (plain data, limits,
                scripting, forms, saved state); `base.spiff`, the one module that patches
                SpiffWorkflow or touches its private attributes

`tools/engine_moves.txt` maps the flat module names used before this cut to these.
"""
