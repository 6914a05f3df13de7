// The bench's figures over --repeat rounds as its report prints them: the median and the min-max range of each, and
// the option that asks for rounds.
import { describe, expect, it } from 'vitest';
import { figureText, pairText, spread, spreadText } from '../../bench/load-rounds.js';
import { readOptions } from '../../bench/options.js';

describe('a figure over rounds', () => {
  it('is the middle value of an odd count and the mean of the middle two of an even one, whatever the order', () => {
    expect(spread([16.7, 4.8, 5.3])).toEqual({ median: 5.3, min: 4.8, max: 16.7, count: 3 });
    expect(spread([3, 1, 4, 2])).toEqual({ median: 2.5, min: 1, max: 4, count: 4 });
    expect(spread([])).toBeUndefined();
  });

  it('ranks a round with nothing measured (NaN) above every number', () => {
    expect(spread([NaN, 0, 0.2])).toMatchObject({ median: 0.2, min: 0 });
    expect(spread([NaN, 0, 0.2])?.max).toBeNaN();
    expect(spread([NaN, 0])?.median).toBeNaN();
  });

  it('prints alone for one round, with its range for more, n/a for none', () => {
    expect(figureText([5.3], 1)).toBe('5.3');
    expect(figureText([16.7, 4.8, 5.3], 1)).toBe('5.3 (4.8-16.7)');
    expect(figureText([1.25, 1.1, 1.3], 2, '×')).toBe('1.25× (1.10-1.30)');
    expect(figureText([0.1, NaN, 0], 3, ' %')).toBe('0.100 % (0.000-n/a)');
    expect(figureText([], 1)).toBe('n/a');
    expect(spreadText([0.2, 2000], (ms) => (ms >= 1000 ? '> 1000' : ms.toFixed(2)))).toBe('> 1000 (0.20-> 1000)');
    expect(pairText([0.5, 0.7], [3, 5], 2)).toBe('0.60 (0.50-0.70) / 4.00 (3.00-5.00)');
    expect(pairText([NaN], [NaN], 2)).toBe('n/a');
  });
});

describe('--repeat', () => {
  const repeat = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
    const options = readOptions(argv, env);
    if (options === 'help') throw new Error('help');
    return options.repeat;
  };

  it('runs each load step once unless asked for more rounds', () => {
    expect(repeat([])).toBe(1);
    expect(repeat(['--repeat', '3'])).toBe(3);
    expect(repeat([], { BENCH_REPEAT: '5' })).toBe(5);
    expect(repeat(['--repeat', '2'], { BENCH_REPEAT: '5' })).toBe(2);
    expect(() => repeat(['--repeat', '0'])).toThrow(/repeat: "0"/);
    expect(() => repeat(['--repeat', '2.5'])).toThrow(/repeat: "2.5"/);
  });
});
