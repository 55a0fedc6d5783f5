"""Pure rules: no database, web framework, CLI, files or network."""
