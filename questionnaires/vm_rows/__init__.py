"""The VM list of a ``vm_list`` question as rows: its columns, reading rows typed, pasted or uploaded, and the rows
shown in the grid and written to exports. Parsing and presentation only: writes go through
``questionnaires.services.declared_vms``.

A manager with 40 VMs does not fill 40 forms. ``parse.vm_rows_parse`` reads
rows typed in the page's grid, text pasted from a spreadsheet, an uploaded CSV
or an uploaded xlsx workbook, and returns the good rows *and* every problem
(row, column, message): the good rows can be kept as a draft while the person
fixes the rest. Cells, encodings, delimiters and workbooks are read as every
table is (``docs/tabular.md``); this package says what the VM list's columns are.

Columns (the ``DeclaredVM`` fields of the same names)
-----------------------------------------------------

Problems name a column by its heading in the grid (``columns.COLUMN_LABELS``:
"Created on", not ``created_on``) and list the values people type (labels,
not the stored codes); those headings are understood as headers too.

=============== ======== ==============================================================
column          required value
=============== ======== ==============================================================
name            yes      the VM's name (at most 255 characters)
address                  host name or IP address
platform                 vmware-esxi, vmware-workstation, hyperv, kvm, xen, virtualbox,
                         cloud or other, or a usual spelling in any case: "ESXi",
                         "vSphere", "VMware Workstation", "Fusion", "Hyper-V",
                         "Proxmox", "XenServer", "VirtualBox", "AWS", "Azure"...
                         ("VMware" alone is refused: ESXi or Workstation?)
software                 virtualization software and version
location                 where it runs (site, data centre, host, laptop...)
created_on               the date it was created, as ``docs/tabular.md`` reads dates
                         (2024-03-05, 5.3.2024, 5 Mar 2024, 15/3/2024, a date cell);
                         3/5/2024 is refused: March 5 or May 3? Not in the future.
created_by               who created it
purpose                  production, development, test, departmental, research or
                         other (also "prod", "dev", "testing")
purpose_other            what the purpose is, when it is other (a purpose_other with
                         an empty purpose means other)
status                   running, stopped or decommissioned (also "on", "off",
                         "powered on", "suspended", "retired")
owner                    who is responsible for it
data_categories          values or labels of ``DataCategory`` separated by ``;`` or
                         ``,``, any case: ephi (or "PHI"), financial_reporting,
                         customer_financial, personal (or "PII"), none
notes                    free text (at most 2,000 characters)
uuid                     the VM's instance or BIOS UUID (32 hex digits, dashes optional:
                         RVTools' "VM UUID" or "SMBIOS UUID"), stored in lower case
vm_id                    the vCenter VM ID or moref, e.g. vm-1042 (RVTools' "VM ID")
mac_address              a MAC address, any of 00:50:56:AB:CD:EF, 00-50-56-ab-cd-ef,
                         0050.56ab.cdef; stored as 00:50:56:ab:cd:ef
=============== ======== ==============================================================

The last three are for power users pasting from RVTools or vSphere: reconciliation
matches a declared VM by them first (``services/reconciliation.py``); the grid hides
them until a person shows them.

Headers are matched as every header is (letters and digits, any case), and a
few usual names are understood ("VM name", "Hostname", "IP address",
"Created", "Comments"...); a column with an unknown header is reported and
ignored. Pasted text and CSV may come without a header line: the cells are
then read in the order of the table above. A line is a header when it names
the ``name`` column and at least one other. A first line that reads like a
header but is not one (it names a column but not ``name``, or it is words
only that are bad as data: ``Server,IP,Colour``) refuses the whole input:
read as data it would be a VM, and every column after it misread.

Inputs and their limits
-----------------------

- grid: a list of dicts keyed by column (plus ``id``, the ``DeclaredVM`` a
  row edits, for rows the page already showed).
- text: pasted from a spreadsheet, tab-separated (Excel, LibreOffice and
  Google Sheets copy cells so); comma- or semicolon-separated text works too.
- csv_file: a CSV file as ``docs/tabular.md`` reads them (UTF-8, or UTF-16
  with its BOM; comma, semicolon or tab). A VM name holding a line break is
  refused (a problem on its row): a quote left open?
- xlsx_file: the first worksheet of an xlsx workbook, up to column
  ``parse.MAX_COLUMNS``, guarded as ``docs/tabular.md`` says.
- Uploads and pasted text may be at most ``settings.QUESTIONNAIRE_UPLOAD_MAX_BYTES``
  (2 MB by default); an xlsx may unzip to at most ``parse.XLSX_MAX_EXPANSION``
  times that and hold at most ``parse.XLSX_MAX_CELLS`` cells with a value. One
  input holds at most ``parse.MAX_ROWS`` rows; more is refused whole (split the list).

Row numbers in problems (``Problem.row``, read out by ``ParsedRows.problem_texts``):

- grid and pasted text: "row 2", the data row counting from ``start_row``
  (a header line is not counted, blank lines are), as the grid numbers rows;
- CSV upload: "line 3 of the file", the line of the file where the record begins;
- xlsx upload: "row 3 of the sheet", the worksheet row (the header is row 1).

Row 0 is the input as a whole. Duplicate rows (same name and address) are
reported and only the first is kept.
"""
