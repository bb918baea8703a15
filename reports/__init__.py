"""The weekly leadership report: context, charts, rendering, email."""
