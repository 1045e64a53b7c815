"""Reading inventory files into ``Inventory`` observations: RVTools exports (``rvtools``) and the VM CSV (``vm_csv``).

Parsing only: nothing here touches the database; ``inventory.services.imports``
applies what these readers return inside one transaction. Files are read as
every table is (``docs/tabular.md``); each reader says which columns it has
and what they become. Both check the whole file first and raise
``ImportRefused`` listing every problem (sheet, row, column, message); they
never return part of a file.
"""
