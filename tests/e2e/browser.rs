//! The live page (`/ui` on the monitor listener) in a real browser:
//! Debian's chromium, headless, driven over the DevTools protocol.
