"""Protocol models.  Every module here defines one Protocol subclass (see checker.model)."""
