set terminal pngcairo size 900,520
set output 'docs/img/echo-size-sweep.png'  # run from the repository root: gnuplot docs/data/echo-size-sweep.gp
set logscale x 2
set xrange [96:1400000]
set xtics ('128' 128, '1 KiB' 1024, '8 KiB' 8192, '16 KiB' 16384, '64 KiB' 65536, '256 KiB' 262144, '1 MiB' 1048576)
set xlabel 'message size (bytes), 8 connections x 1 in flight'
set ylabel 'server CPU per message / tokio (fixed rate)'
set key top left
set grid
set yrange [0.7:1.8]
plot 'docs/data/echo-size-sweep-2026-12-03.tsv' using 1:($2/$4) with linespoints title 'weft (queued buffers in one write)', \
     '' using 1:($3/$4) with linespoints title 'weft before', \
     1 with lines dt 2 title 'tokio', 0.85 with lines dt 3 title 'target 0.85'
