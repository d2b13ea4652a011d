"""The hipposim model library (installed as ``hipposim.models``)."""
