"""Code that runs INSIDE the sandbox under a runtime environment's Python (3.7+; stdlib and that
environment's libraries only). Modules here are plain top-level modules for the sandbox's job
loader ("sagemaker_job:serve", "vertex_job:predict"); deploycheck itself never imports them."""
