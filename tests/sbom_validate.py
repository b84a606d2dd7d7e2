"""Validates a CycloneDX 1.6 JSON document against the specification's JSON schema, with
cyclonedx-python-lib's strict validator (PyPI `cyclonedx-python-lib[json-validation]`).

Usage: python3 sbom_validate.py FILE. Exit 0 when valid; 1 with the first error on stderr."""

import sys

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    if error is not None:
        print(f"{sys.argv[1]}: invalid CycloneDX 1.6: {error}", file=sys.stderr)
        return 1
    print(f"{sys.argv[1]}: valid CycloneDX 1.6")
    return 0


if __name__ == "__main__":
    sys.exit(main())
