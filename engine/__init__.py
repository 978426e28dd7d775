"""Champion/challenger experimentation engine for dunning.

The package is layered (see ARCHITECTURE in the README):

* core (pure, no I/O): :mod:`engine.config`, :mod:`engine.loader`, :mod:`engine.assignment`,
  :mod:`engine.drawing`, :mod:`engine.compliance`, :mod:`engine.events`, :mod:`engine.stats`,
  :mod:`engine.policy`, :mod:`engine.promotion`, :mod:`engine.clv`, :mod:`engine.sbg`,
  :mod:`engine.metrics`, :mod:`engine.analysis`, :mod:`engine.ope`, :mod:`engine.uplift`,
  :mod:`engine.simulate`;
* store: :mod:`engine.store` (SQLModel tables, sessions, SQL aggregations);
* service: :mod:`engine.service` (use cases with transaction boundaries, and the demo loop);
* edges: :mod:`engine.cli`, :mod:`engine.batchio`, :mod:`engine.ope_io` and the Streamlit app
  in ``dashboards/``.
"""

__version__ = "0.1.0"
