"""``consentkit scan``: audit a site in a real browser before and after each consent choice.

Modules, from pure to browser:

* :mod:`~consentkit.scan.model`: what a scan observed (plain values);
* :mod:`~consentkit.scan.crawl`: start-URL checks, robots.txt, sitemap.xml, same-site links;
* :mod:`~consentkit.scan.controls`: consent buttons by consentkit markup, consent-manager
  selectors and accessible names in six languages;
* :mod:`~consentkit.scan.rules`: classification and the violation rules;
* :mod:`~consentkit.scan.report` and :mod:`~consentkit.scan.declaration`: JSON, text,
  Markdown, HTML and the draft ``[[cookies]]`` declaration;
* :mod:`~consentkit.scan.browser`: the only module that imports Playwright (``[scan]`` extra);
* :mod:`~consentkit.scan.command`: the command line.
"""
