"""PySide6 user interface: thin views over ``workbench.core`` objects."""
