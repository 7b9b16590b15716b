"""Skills shipped with teamclaw: one folder per skill, each with a SKILL.md (package data, never imported)."""
