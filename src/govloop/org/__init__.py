"""The organisation: departments (a tree), halls with their opening hours, and who works
for which department. Every domain reads these from here."""
