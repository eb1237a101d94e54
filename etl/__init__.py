"""From the spreadsheets offices send to rows in the store; and the demo scenario."""
