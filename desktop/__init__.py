"""The front-desk program (PySide6). The only package that imports Qt."""
