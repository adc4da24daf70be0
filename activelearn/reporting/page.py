"""The HTML of `activelearn report`: one self-contained page (inline style and script, no
network) whose images and CSV files are referenced by bare file names, so the folder
still works when it is copied elsewhere or opened from a file:// URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px;
       padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
.meta, .files, .note { color: #555; }
.nodata { color: #8a5a00; background: #fff6e0; padding: .5em .8em; border-radius: 4px; }
table { border-collapse: collapse; margin: .8em 0; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; }
th { background: #f3f3f3; }
caption { caption-side: bottom; text-align: left; color: #555; font-size: .9em; }
td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; height: auto; display: block; margin: .8em 0; }
img.half { display: inline-block; width: 49%; vertical-align: top; margin-right: 1%; }
nav a { margin-right: 1em; }
"""

# Counts the images that really decoded (not only finished loading), so a browser test
# can read the result from the DOM: <body data-images-loaded="LOADED/TOTAL">.
_SCRIPT = """
window.addEventListener("load", function () {
  var images = document.images, loaded = 0;
  for (var i = 0; i < images.length; i++) {
    if (images[i].complete && images[i].naturalWidth > 0) { loaded++; }
  }
  document.body.dataset.imagesLoaded = loaded + "/" + images.length;
});
"""


@dataclass
class Section:
    """One part of the report: its HTML body and the files it wrote next to the page."""

    anchor: str
    title: str
    body: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    has_data: bool = True

    def text(self, line: str, css: str = "note") -> None:
        self.body.append(f'<p class="{css}">{escape(line)}</p>')

    def no_data(self, why: str) -> None:
        """Mark the section empty, saying why (instead of plots and tables)."""
        self.has_data = False
        self.text(f"No data: {why}", "nodata")

    def image(self, name: str, alt: str, half: bool = False) -> None:
        """An <img> of a file next to the page; half: two of them side by side."""
        self.images.append(name)
        css = ' class="half"' if half else ""
        self.body.append(f'<img src="{escape(name)}" alt="{escape(alt)}"{css}>')

    def table(self, rows: Sequence[Sequence[object]], caption: str = "") -> None:
        """rows: the header first, then the body rows; cells are shown as text."""
        self.body.append(table(rows, caption))

    def html(self) -> str:
        files = ""
        if self.files:
            links = ", ".join(f'<a href="{escape(f)}">{escape(f)}</a>' for f in self.files)
            files = f'<p class="files">Data: {links}</p>'
        return (f'<section id="{self.anchor}" data-has-data="{str(self.has_data).lower()}">'
                f"<h2>{escape(self.title)}</h2>{''.join(self.body)}{files}</section>")


def table(rows: Sequence[Sequence[object]], caption: str = "") -> str:
    """An HTML table; rows: the header first."""
    if not rows:
        return ""
    head = "".join(f"<th>{escape(str(c))}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows[1:])
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_page(title: str, meta: Sequence[str], sections: Sequence[Section]) -> str:
    """The whole page: a title, lines about the project, a table of contents, the sections."""
    nav = " ".join(f'<a href="#{s.anchor}">{escape(s.title)}</a>' for s in sections)
    about = "".join(f'<p class="meta">{escape(line)}</p>' for line in meta)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>\n<body>"
        f"<h1>{escape(title)}</h1>{about}<nav>{nav}</nav>\n"
        + "\n".join(s.html() for s in sections)
        + f"\n<script>{_SCRIPT}</script></body></html>\n"
    )


def fmt(value: float | None, spec: str = ".4f") -> str:
    """A number for a table cell; "-" for none."""
    return "-" if value is None else format(value, spec)
