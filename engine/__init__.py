"""Champion/challenger experimentation engine for dunning.

The package is layered (see ARCHITECTURE in the README):

* core (pure, no I/O): :mod:`engine.config`, :mod:`engine.loader`, :mod:`engine.assignment`,
  :mod:`engine.stats`, :mod:`engine.policy`, :mod:`engine.promotion`, :mod:`engine.clv`,
  :mod:`engine.metrics`, :mod:`engine.simulate`;
* store: :mod:`engine.store` (SQLModel tables, sessions, SQL aggregations);
* service: :mod:`engine.service` (use cases with transaction boundaries) and :mod:`engine.demo`;
* edges: :mod:`engine.cli` and the Streamlit app in ``dashboards/``.
"""

__version__ = "0.1.0"
