/* The producer/consumer ring of pcring.py, in Promela, for a side-by-side
 * with SPIN (docs/performance.md).  Each shared access is one statement, as
 * each is one event in the checker's model; local code rides along with the
 * access before it (d_step), as the checker folds it into that step.
 *
 *   spin -a pcring.pml && gcc -O2 -DSAFETY -DNOREDUCE -o pan pan.c && ./pan -m1000000
 */
#ifndef SLOTS
#define SLOTS 4
#endif
#ifndef PUSHES
#define PUSHES 16
#endif
#ifndef CONSUMERS
#define CONSUMERS 4
#endif

byte ring[SLOTS];
byte head = 0;
byte tail = 0;
bit lock = 0;

active proctype producer()
{
    byte h = 0;
    byte t;
    do
    :: d_step { h < PUSHES; t = tail } ->
        if
        :: d_step { h - t < SLOTS; ring[h % SLOTS] = h + 1 } ->
            d_step { head = h + 1; h++; t = 0 }
        :: d_step { else; t = 0 }
        fi
    :: else -> break
    od
}

active [CONSUMERS] proctype consumer()
{
    byte t, h, v;
    byte got = 0;
    bit done = 0;
    do
    :: done == 0 ->
        atomic { lock == 0 -> lock = 1 };   /* test-and-set: blocks while held */
        t = tail;
        if
        :: d_step { t == PUSHES; done = 1; t = 0 }
        :: else ->
            h = head;
            if
            :: d_step { h != t; v = ring[t % SLOTS] } ->
                assert(v == t + 1);
                d_step { tail = t + 1; got++; t = 0; h = 0; v = 0 }
            :: d_step { else; t = 0; h = 0 }
            fi
        fi;
        lock = 0
    :: else -> break
    od
}
