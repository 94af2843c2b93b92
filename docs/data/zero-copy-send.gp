# run from the repository root: gnuplot docs/data/zero-copy-send.gp
set terminal pngcairo size 800,460
set output 'docs/img/zero-copy-send.png'
set logscale x 2
set logscale y 10
set xrange [3000:1400000]
set xtics ('4 KiB' 4096, '16 KiB' 16384, '64 KiB' 65536, '256 KiB' 262144, '1 MiB' 1048576)
set xlabel 'write size, one loopback TCP connection'
set ylabel 'writer CPU, zero copy / copy'
set grid
set key top right
$d << END
4096 18.33
16384 9.34
65536 2.24
262144 0.92
1048576 1.33
END
plot $d using 1:2 with linespoints title 'write_all_zero_copy / write_all (medians of 3)', 1 with lines dt 2 title 'even'
