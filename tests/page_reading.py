"""Read a rendered page as a person does: its text, links, form fields, buttons, tables and label / value lists.

Page tests assert what a user reads or can click rather than the markup that draws it, so a new CSS class does
not break them, and markup that draws nothing cannot make them pass.

    page = read(response.content.decode())
    assert links(page.find("table")) == [("app01", "/inventory/vms/1/"), ...]
    assert facts(page)["Owner"].text() == "Olga Owner"
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
UNSEEN_TAGS = {"head", "script", "style", "template"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list["Element | str"] = field(default_factory=list)

    def text(self) -> str:
        """The visible text inside, whitespace collapsed; elements are separated by a space."""
        return " ".join(" ".join(self._strings()).split())

    def _strings(self) -> Iterator[str]:
        for child in self.children:
            if isinstance(child, str):
                yield child
            elif child.tag not in UNSEEN_TAGS:
                yield from child._strings()

    def iter(self) -> Iterator["Element"]:
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.iter()

    def find_all(self, tag: str | None = None, *, css_class: str | None = None, **attrs: str) -> list["Element"]:
        """Descendants with this tag, this class among their classes, and these attribute values."""
        return [
            element for element in self.iter()
            if (tag is None or element.tag == tag)
            and (css_class is None or css_class in element.attrs.get("class", "").split())
            and all(element.attrs.get(name.replace("_", "-")) == value for name, value in attrs.items())
        ]

    def find(self, tag: str | None = None, *, css_class: str | None = None, **attrs: str) -> "Element":
        """The one descendant that matches; fails the test when there is none or several."""
        found = self.find_all(tag, css_class=css_class, **attrs)
        assert len(found) == 1, f"{len(found)} <{tag or '*'}> elements match class={css_class!r} {attrs}"
        return found[0]


class _TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Element("document", {})
        self.open = [self.root]

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.open[-1].children.append(element)
        if tag not in VOID_TAGS:
            self.open.append(element)

    def handle_startendtag(self, tag, attrs):
        self.open[-1].children.append(Element(tag, {name: value or "" for name, value in attrs}))

    def handle_endtag(self, tag):
        for depth in range(len(self.open) - 1, 0, -1):
            if self.open[depth].tag == tag:
                del self.open[depth:]
                return

    def handle_data(self, data):
        self.open[-1].children.append(data)


def read(html: str) -> Element:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def links(element: Element) -> list[tuple[str, str]]:
    """(text, address) of every link, in page order."""
    return [(link.text(), link.attrs["href"]) for link in element.find_all("a") if "href" in link.attrs]


def facts(element: Element) -> dict[str, Element]:
    """Each ``<dt>`` label with the ``<dd>`` that follows it."""
    pairs: dict[str, Element] = {}
    for definitions in element.find_all("dl"):
        label = None
        for child in definitions.children:
            if isinstance(child, Element) and child.tag == "dt":
                label = child.text()
            elif isinstance(child, Element) and child.tag == "dd" and label is not None:
                pairs[label] = child
    return pairs


def rows(table: Element) -> list[list[str]]:
    """The text of each body cell, row by row."""
    body = table.find("tbody")
    return [[cell.text() for cell in row.find_all("td")] for row in body.find_all("tr")]


def options(element: Element, name: str) -> list[tuple[str, str]]:
    """(text, value) of each option of the select ``name``."""
    choices = element.find("select", name=name).find_all("option")
    return [(option.text(), option.attrs.get("value", "")) for option in choices]


def selected(element: Element, name: str) -> list[str]:
    """The text of the chosen options of the select ``name``."""
    choices = element.find("select", name=name).find_all("option")
    return [option.text() for option in choices if "selected" in option.attrs]


def buttons(element: Element) -> list[tuple[str, bool]]:
    """(text, whether it can be pressed) of every button."""
    return [(button.text(), "disabled" not in button.attrs) for button in element.find_all("button")]
