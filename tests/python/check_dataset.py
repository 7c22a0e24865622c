"""Checks a downloaded copy of tandem's published data as an analyst's tools read it.

Usage: check_dataset.py DIR, where DIR holds datapackage.json and every CSV it names, at the
paths it names (as /v1/ serves them). Run by services/publish/tests/tables.rs in target/venv,
which scripts/test makes with `pip install frictionless libhxl`.

- frictionless validates the package: its descriptor, and every CSV against its Table Schema
  (types, the HXL row as a comment row, `*` as a missing value).
- frictionless reads every row with its types: counts are integers, or missing where hidden
  (`*`) or not reported.
- libhxl parses every CSV: the hashtag row is found, and its hashtags are those the package
  gives each field.

Prints one line per resource and "N resources valid"; exits 1 with the reasons otherwise.
"""

import json
import sys
from pathlib import Path

import frictionless
import hxl


def main(folder: Path) -> int:
    descriptor = folder / "datapackage.json"
    problems = []
    report = frictionless.validate(str(descriptor))
    if not report.valid:
        for error in report.flatten(["type", "message"]):
            problems.append(f"frictionless: {error[0]}: {error[1]}")
    package = json.loads(descriptor.read_text(encoding="utf-8"))
    resources = package["resources"]
    typed = frictionless.Package(str(descriptor))
    for resource in resources:
        path = folder / resource["path"]
        integers = [f["name"] for f in resource["schema"]["fields"] if f["type"] == "integer"]
        with typed.get_resource(resource["name"]) as table:
            for row in table.row_stream:
                for name in integers:
                    if not (row[name] is None or isinstance(row[name], int)):
                        problems.append(f"{resource['path']}: {name} is {row[name]!r}")
        expected = [field["hxl"] for field in resource["schema"]["fields"]]
        # allow_local: a file on this machine, which libhxl refuses by default.
        data = hxl.data(str(path), hxl.InputOptions(allow_local=True, encoding="utf-8"))
        tags = [column.display_tag for column in data.columns]
        rows = sum(1 for _ in data)
        if tags != expected:
            problems.append(f"libhxl: {resource['path']}: hashtags {tags}, package says {expected}")
        print(f"{resource['name']}: {rows} rows, {len(tags)} HXL columns")
    if problems:
        print("\n".join(problems))
        return 1
    print(f"{len(resources)} resources valid")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: check_dataset.py DIR")
    sys.exit(main(Path(sys.argv[1])))
