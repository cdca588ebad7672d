"""Reading a finished run directory.

    exportable  a run's models that can be exported, their files, their card facts
"""
