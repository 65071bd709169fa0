/* The producer/consumer ring of pcring.py, in Promela, for a side-by-side
 * with SPIN (docs/performance.md, `python -m checker.docs_tables --only peers`).
 *
 * Written transition for transition like the checker's model: every SPIN
 * transition is one d_step holding a guard on locals, exactly one access to
 * shared memory and the local code that follows it up to the next access
 * (the checker folds local code into the event before it the same way), and
 * a local the checker's liveness analysis would zero is zeroed here too.  A
 * failed test-and-set and a read of a full ring are steps back to the same
 * state, as in the checker.  A finished process waits at a valid end state
 * (`end_done: false`) instead of terminating: SPIN would count a process at
 * its closing brace and the same process removed as two states, where the
 * checker has one.  So both tools count the same states, and SPIN's
 * "transitions" are the checker's plus one (SPIN adds the initial state).
 *
 *   spin -a pcring.pml && gcc -O2 -DSAFETY -DNOREDUCE -o pan pan.c && ./pan -m1000000
 *   (spin -DCONSUMERS=3 -DPUSHES=8 -a pcring.pml for other sizes)
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
    do
    :: d_step { h - tail < SLOTS -> skip };   /* read tail: room for one more */
        d_step { ring[h % SLOTS] = h + 1 };
        if  /* publish; stop after the last push */
        :: d_step { h + 1 < PUSHES -> head = h + 1; h++ }
        :: d_step { h + 1 >= PUSHES -> head = h + 1; h = 0 }; break
        fi
    :: d_step { h - tail >= SLOTS -> skip }   /* read tail: full, try again */
    od;
end_done: false
}

active [CONSUMERS] proctype consumer()
{
    byte t = 0;
    byte got = 0;
    bit done = 0;
    do
    :: d_step { lock == 0 -> lock = 1 };   /* test-and-set: acquired */
        if  /* read tail */
        :: d_step { tail == PUSHES -> done = 1 }
        :: d_step { tail != PUSHES -> t = tail };
            if  /* read head */
            :: d_step { head == t -> t = 0 }
            :: d_step { head != t -> skip };
                d_step { assert(ring[t % SLOTS] == t + 1) };   /* read the entry */
                d_step { tail = t + 1; got++; t = 0 }
            fi
        fi;
        if  /* release */
        :: d_step { done == 0 -> lock = 0 }
        :: d_step { done == 1 -> lock = 0; got = 0 }; break
        fi
    :: d_step { lock != 0 -> skip }   /* test-and-set: held, try again (a step back to the same state) */
    od;
end_done: false
}
