"""Work orders (工单): intake from every channel, routing, dispatch, time limits, callbacks."""
