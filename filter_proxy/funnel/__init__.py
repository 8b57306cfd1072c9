"""The deterrence funnel (issue 15): warnings shown -> help-link clicks -> (opt-in) repeat searches, per
warning kind, language and variant, counted without any user data.

``token`` signs the ``/-/help/<token>`` links, ``route`` serves them, ``choose`` picks a warning variant,
``cookie`` is the opt-in repeat-search cookie, ``stats`` the intervals and tests of the report,
``summary`` the funnel section of the transparency report.
"""
