"""Code that runs INSIDE the sandbox under a runtime's own Python (3.7 and newer), stdlib only
(plus the runtime's libraries). The modules here are imported as plain top-level modules inside
the sandbox (this folder is on the server's sys.path), never as ``deploycheck.inside.*``."""
