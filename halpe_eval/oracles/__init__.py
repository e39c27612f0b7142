"""The oracle room: everything that runs the official evaluators lives here (being moved from reference.py)."""
