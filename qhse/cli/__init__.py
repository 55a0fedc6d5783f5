"""The `qhse` command line: the root group (`root.py`), command modules, shared helpers (`support.py`)."""
