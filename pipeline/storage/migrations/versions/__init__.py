"""The migration scripts, one file per revision (`NNNN_what_changed.py`).

A package so that an installed `intake` ships them and can migrate its database.
"""
