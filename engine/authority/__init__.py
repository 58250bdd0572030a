"""Who is who: the unit tree, people, their roles and who owns a process."""
