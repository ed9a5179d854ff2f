"""``kind = "web"``: a site's integrity against defacement and injected gambling links.

    page.py      the page's facts, parsed with selectolax (external domains, hidden links,
                 visible and hidden text, title, simhash of the text)
    words.py     the shipped Vietnamese gambling and SEO-spam word list and its matcher
    baseline.py  what each site looked like over its first good fetches (SQLite, state_dir)
    probe.py     the probe: fetch as a browser and as a crawler, analyse, compare, judge

Nothing here is imported by the settings (they read ``probes.options.WebOptions``).
"""
