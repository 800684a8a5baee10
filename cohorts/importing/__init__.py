"""Import accounts and conversations from CSV, XLSX, JSON Lines or API items, all or nothing.

One importer serves the upload pages, the `cohorts import-*` commands and the JSON API. Files are
streamed: rows are read, checked and written in batches inside one savepoint, so a million parts
never sit in memory at once. Any problem (a missing id, an unreadable date, an unknown account...)
stops the writing, the rest is still checked so that the first problems can all be listed, and the
savepoint is rolled back: a bad file changes nothing. Callers commit once, when nothing was wrong.
The preview runs the same checks over the whole file and writes nothing; an import that goes
through is recorded in the history, in its own transaction.

Bodies may be HTML, as support tools export them: parts keep readable text only. Customer-written
parts are indexed for search by the database itself (see migration 0003), so rows are only
inserted and deleted here.

The package owns the whole import, from the uploaded bytes to the rows written:

- `reading`: UTF-8 with or without a BOM, CSV or JSON Lines, the delimiter, rows and lines; an
  XLSX workbook's rows; a table's header mapped to any set of fields (`read_table`, which other
  packages' imports use too); opening a file as its records, counting its rows;
- `mapping`: the kinds of import, their fields (a `FieldSet`, which other packages' imports
  describe theirs with), and which column holds which field;
- `problems`: what is wrong and where, and the errors that refuse an import;
- `checks`: the records, and the checks that turn rows and JSON values into records or problems;
- `writing`: writing accounts and conversations in batches, all or nothing, or only checking;
- `previews`: a file checked row by row as its import would check it, nothing written;
- `history`: the runs of the imports that went through, recorded in their own transaction;
- `uploads`: the files kept between the preview and the import;
- `text`: HTML bodies as readable text.

Callers import from here; the modules import each other directly.
"""

from cohorts.importing.checks import AUTHORS, ID_MAX, TAG_MAX, parse_time
from cohorts.importing.history import Origin, RunList, latest_runs, record_run
from cohorts.importing.mapping import FIELDS, SKIP, FieldSet, Kind, guess_mapping
from cohorts.importing.previews import Preview, blocked_reason, preview
from cohorts.importing.problems import ImportFailed, Place, Problem, TooMuch
from cohorts.importing.reading import FileFormat, Table, read_table
from cohorts.importing.text import html_to_text
from cohorts.importing.uploads import UploadGone, Uploads
from cohorts.importing.writing import ImportClashed, ImportResult, import_file, import_items

__all__ = [
    "AUTHORS",
    "FIELDS",
    "ID_MAX",
    "SKIP",
    "TAG_MAX",
    "FieldSet",
    "FileFormat",
    "ImportClashed",
    "ImportFailed",
    "ImportResult",
    "Kind",
    "Origin",
    "Place",
    "Preview",
    "Problem",
    "RunList",
    "Table",
    "TooMuch",
    "UploadGone",
    "Uploads",
    "blocked_reason",
    "guess_mapping",
    "html_to_text",
    "import_file",
    "import_items",
    "latest_runs",
    "parse_time",
    "preview",
    "read_table",
    "record_run",
]
