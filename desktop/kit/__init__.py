"""Pieces every page of the desk is built from: background lanes, change operations and
the words staff see when something goes wrong."""
