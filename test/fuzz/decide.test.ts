import { properties } from './props/decide.ts';
import { testSlice } from './property.ts';

testSlice(properties);
