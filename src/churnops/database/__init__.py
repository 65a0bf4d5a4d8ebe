"""PostgreSQL as the shared store (``CHURNOPS_DATABASE_URL``): connections, schema versions,
and the inference log's table. Unset, churnops keeps everything in files and SQLite."""
