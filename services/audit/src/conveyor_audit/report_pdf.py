"""The PDF of a report's HTML, by WeasyPrint (HTML and inline SVG charts, no browser), off the event loop."""

import asyncio


def render_pdf(html: str) -> bytes:
    from weasyprint import HTML  # imported on first use: it loads Pango, which the ledger path never needs

    return HTML(string=html).write_pdf()


async def pdf_of(html: str) -> bytes:
    return await asyncio.to_thread(render_pdf, html)
