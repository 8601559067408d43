"""The document layer: APA number formatting, the document model and its HTML,
Markdown, LaTeX and Word writers."""
