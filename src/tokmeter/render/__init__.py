"""Every way a result is shown: tables, charts, HTML (with its style and SVG), the follow view, summaries."""
