"""Print the configuration table of README.md from folio_common.settings (the one source).

``python scripts/settings_table.py`` — paste between the README's table markers; a test
checks that the README names every variable.
"""

from __future__ import annotations

from folio_common.settings import describe


def main() -> None:
    print("| variable | default | meaning |")
    print("|---|---|---|")
    for name, default, doc in describe():
        shown = f"`{default}`" if default else "—"
        print(f"| `{name}` | {shown} | {doc} |")


if __name__ == "__main__":
    main()
