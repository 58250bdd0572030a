"""Records management: what happens to a case's records after the case (arkivlagen, ISO 9001 7.5.3).

    rules       retention rules as data (bevaras, or gallras a period after closing) under a
                culling decision, proposed and approved by two people, versioned
    holds       a case held from culling (an appeal, a request for the record), and its release
    culling     the culling job: finds closed cases whose period has run out and culls each once,
                leaving a culling record and a history that still verifies; dry run; the report
    eark        delivery to the e-archive as E-ARK packages, and the archive's receipt
    personal_data   a person's request for their data (GDPR art. 15): every case and event naming them

The package sits above `service` (the top of the engine's layer order): culling seals the chain
heads and verifies a case's history with `service.audit` before it removes anything.
"""
