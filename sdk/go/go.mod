module wbtoolkit/whitebox

go 1.26
