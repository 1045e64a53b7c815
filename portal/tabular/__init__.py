"""Reading tables people hand us (CSV text, xlsx workbooks, the VM grid): one rule for each kind of cell.

Each importer keeps only its column specification; cells, encodings,
delimiters, workbook guards and problems are read here, the same way for
all of them. The rules are written for people in ``docs/tabular.md``.
"""
