"""The imaging field of view on a scanner screen: `detector.find_field_of_view` is the entry, and
its docstring maps the stages onto the other modules (cues, shapes, edges, overlay, rectangles)."""
