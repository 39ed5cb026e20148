//! Building a flow's dependencies from the stored connections and their secrets.
