import { properties } from './props/load.ts';
import { testSlice } from './property.ts';

testSlice(properties);
