"""The icon and the .desktop launcher; installed with the app as the package `facegate.assets`."""
