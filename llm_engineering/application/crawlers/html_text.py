"""HTML to readable text: the transform both article crawlers use.

It is the transform langchain-community's `Html2TextTransformer` applies (html2text without links and
images), called directly so the project does not lean on a package that is being sunset. Lines are
not re-wrapped and code blocks are kept fenced with their indentation: raw text is stored as fetched,
cleaning happens later in the feature pipeline.
"""

from __future__ import annotations


def html_to_text(html: str) -> str:
    """Markdown-like text of an HTML fragment or page."""
    import html2text

    converter = html2text.HTML2Text()
    converter.ignore_links = True
    converter.ignore_images = True
    converter.body_width = 0  # no hard wrapping: keep the author's lines
    converter.unicode_snob = True  # keep unicode characters instead of ASCII look-alikes
    converter.backquote_code_style = True  # fenced code blocks keep their indentation
    return converter.handle(html).strip()
