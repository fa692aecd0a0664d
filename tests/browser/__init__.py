"""Browser tier: JupyterLab in headless Chromium (Debian chromium + chromedriver)."""
