"""Pages of the questionnaires, a module per page family. Thin: reads go through selectors, every write through a
service, whose ``ValidationError`` is shown as a message on the page and whose ``PermissionDenied`` is a 403
with its reason."""
