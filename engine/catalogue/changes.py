"""What changed between two versions of a process, as whoever approves the newer one reads it."""

from __future__ import annotations

from typing import Any


def change_summary(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any]:
    """What changed between two versions' models: elements, human steps, their roles and deadlines,
    and the authority the diagram declares (who may start cases, the unit cases go to), so that
    whoever approves sees it."""
    if before is None:
        return {"first_version": True}
    old_names, new_names = before.get("element_names", {}), after.get("element_names", {})
    old_steps = {st["element_id"]: st for st in before.get("steps", {}).values()}
    new_steps = {st["element_id"]: st for st in after.get("steps", {}).values()}
    return {
        "added": sorted(set(new_names) - set(old_names)),
        "removed": sorted(set(old_names) - set(new_names)),
        "renamed": [{"id": k, "from": old_names[k], "to": new_names[k]}
                    for k in sorted(set(old_names) & set(new_names)) if old_names[k] != new_names[k]],
        "roles_changed": [{"id": k, "from": old_steps[k].get("role"), "to": new_steps[k].get("role")}
                          for k in sorted(set(old_steps) & set(new_steps))
                          if old_steps[k].get("role") != new_steps[k].get("role")],
        "deadlines_changed": [{"id": k, "from": old_steps[k].get("due"), "to": new_steps[k].get("due")}
                              for k in sorted(set(old_steps) & set(new_steps))
                              if old_steps[k].get("due") != new_steps[k].get("due")],
        **{f"{name}_changed": {"from": was, "to": now} for name, was, now in (
            ("starters", before.get("starters"), after.get("starters")),
            ("unit", (before.get("properties") or {}).get("rutin:unit"),
             (after.get("properties") or {}).get("rutin:unit"))) if was != now},
    }
