"""The application shell: the ``blazepose`` command line (cli), batch runs over archives on Ray
(batch*), video/image input and output (video) and drawing of poses (drawing)."""
